import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: { include: ['bench/**/*.bench-run.ts'], testTimeout: 900_000, hookTimeout: 300_000, reporters: ['verbose'] }
})
