import { describe, expect, it } from 'vitest'
import { normalizeImage } from '../src/container-facts.js'

describe('normalizeImage', () => {
  it('names an image as the engine resolves it', () => {
    expect(normalizeImage('busybox')).toBe('docker.io/library/busybox:latest')
    expect(normalizeImage('docker.io/busybox:1.36')).toBe('docker.io/library/busybox:1.36')
    expect(normalizeImage('me/app:1')).toBe('docker.io/me/app:1')
    expect(normalizeImage('index.docker.io/me/app')).toBe('docker.io/me/app:latest')
    expect(normalizeImage('localhost:5000/app')).toBe('localhost:5000/app:latest')
    expect(normalizeImage('Registry.Example/Team/App@sha256:abc')).toBe('registry.example/team/app@sha256:abc')
    expect(normalizeImage('SHA256:ABCDEF')).toBe('sha256:abcdef')
    expect(normalizeImage('sha256x')).toBe('docker.io/library/sha256x:latest')
  })
})
