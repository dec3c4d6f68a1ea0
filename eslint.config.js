// Lint: the recommended rules of ESLint and typescript-eslint, plus a few that catch real bugs
// in async code (floating promises are how a proxy leaks a socket).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", ".flip/**", "src/dashboard/vendor/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    files: ["**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", URL: "readonly", Buffer: "readonly" } },
  },
  {
    // The dashboard's scripts run in the browser (plain ES modules, no build step).
    files: ["src/dashboard/public/**/*.js"],
    languageOptions: {
      globals: Object.fromEntries(
        ["document", "sessionStorage", "fetch", "setTimeout", "clearTimeout", "setInterval", "Node", "ResizeObserver", "TextDecoderStream"].map((name) => [name, "readonly"]),
      ),
    },
  },
);
