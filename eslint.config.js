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
)
