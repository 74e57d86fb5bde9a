// Lint: typescript-eslint's recommended type-checked rules over src/ (the architecture's
// import rules are dependency-cruiser's, in .dependency-cruiser.cjs).
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/**', 'test/**', 'examples/**', 'bin/**', '*.config.*'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    // The public types of what the user's code makes (jobs, setup's state): `any` lets a
    // handler typed for its own jobs and state fit without casts.
    files: ['src/options.ts', 'src/slave/job-context.ts', 'src/slave/batch-context.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
)
