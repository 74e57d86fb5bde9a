// Lint: typescript-eslint's recommended type-checked rules over src/ and test/ (the
// architecture's import rules are dependency-cruiser's, in .dependency-cruiser.cjs).
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/**', 'examples/**', 'bin/**', '*.config.*'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    // JavaScript under test/ (fixtures written as users write them, the load runner) has no
    // types: the rules that need them are off there, the others apply.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The fixtures are user modules, shaped as users write them: an async generator or
    // total() with nothing to await, a CommonJS module that requires the package.
    files: ['test/fixtures/**'],
    rules: { '@typescript-eslint/require-await': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The public types of what the user's code makes (jobs, setup's state): `any` lets a
    // handler typed for its own jobs and state fit without casts.
    files: ['src/options.ts', 'src/slave/job-context.ts', 'src/slave/batch-context.ts', 'src/pg/exactly-once.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
)
