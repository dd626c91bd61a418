// ESLint with typescript-eslint's type-checked rules over the whole TypeScript tree.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-artifacts/', 'bench-artifacts/', 'coverage/', 'src/**/assembly/', 'src/api/ui/vendor/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Type-checked rules from the strict set that hold in this code base.
      '@typescript-eslint/no-meaningless-void-operator': 'error',
      '@typescript-eslint/no-unnecessary-type-arguments': 'error',
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'error',
      '@typescript-eslint/no-base-to-string': 'error',
      // With noUncheckedIndexedAccess every typed-array read in the numeric code (windows, kernels,
      // metrics) is `T | undefined`; `!` there states a bound the loop already checks.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Numbers, booleans and null read well in log and error messages.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      // fastify handlers and stage builders are async by contract, also when a body has nothing to await.
      '@typescript-eslint/require-await': 'off',
      // A handler registered before the value it clears exists (signal handlers, intervals).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Its fixes disagree with tsc where a package's types resolve differently under the project
      // service (aedes): removing an assertion it calls unnecessary broke the build. tsc checks them.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    // Tests read JSON answers (`any` by nature) and poke at internals on purpose.
    files: ['tests/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Sinks answer `void | Promise`: tests call them unawaited on purpose to drive the synchronous path.
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'off',
    },
  },
  {
    // The install script runs before anything is built: plain Node JavaScript.
    files: ['scripts/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly' },
    },
  },
  {
    // The status page: browser modules without a build step.
    files: ['src/api/ui/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['src/api/ui/**/*.js'],
    languageOptions: {
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        localStorage: 'readonly',
        EventSource: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        uPlot: 'readonly',
        location: 'readonly',
        history: 'readonly',
        Intl: 'readonly',
        matchMedia: 'readonly',
        requestAnimationFrame: 'readonly',
        navigator: 'readonly',
        AbortController: 'readonly',
        HTMLElement: 'readonly',
        Event: 'readonly',
        CustomEvent: 'readonly',
        TextDecoder: 'readonly',
        FormData: 'readonly',
      },
    },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
