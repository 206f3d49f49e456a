import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The Rust server serves dist/ at `/` and falls back to index.html for client routes, so
// assets use absolute `/assets/...` paths (base `/`) that resolve from any route depth.
export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // KaTeX fonts and CSS are bundled; nothing is fetched from a CDN at run time.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 900,
  },
  server: {
    port: 5173,
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', changeOrigin: false },
      '/v1': { target: 'http://127.0.0.1:8080', changeOrigin: false },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}', 'test/**/*.test.{ts,tsx}'],
    setupFiles: ['test/setup.ts'],
    restoreMocks: true,
  },
});
