import { defineConfig } from 'vite';
import { sri } from './build/sri.ts';

// No Babel preset: TSX is compiled by Vite's own transformer with preact's JSX runtime
// (tsconfig: jsx react-jsx, jsxImportSource preact).
export default defineConfig({
  plugins: [sri()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    // One file: @hpke/core's fallback `import('crypto')` for Node (never taken in a browser,
    // which has WebCrypto) would otherwise become a second chunk.
    rolldownOptions: { output: { inlineDynamicImports: true } },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8087' },
  },
});
