import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Writes a small docker-compose project (file format 2.4, which docker-compose 1.29 runs) into
 * `DIR/NAME` and returns that directory: `web` (busybox, `sleep 600`) and two replicas of `worker`
 * (busybox, prints `worker up`, then `sleep 600`). `up -d` names its containers `NAME_web_1`,
 * `NAME_worker_1` and `NAME_worker_2`, on the network `NAME_default`.
 */
export async function writeComposeProject (dir: string, name = 'proj'): Promise<string> {
  const project = join(dir, name)
  await mkdir(project)
  await writeFile(join(project, 'docker-compose.yml'), [
    'version: "2.4"',
    'services:',
    '  web:',
    '    image: busybox',
    '    command: sleep 600',
    '  worker:',
    '    image: busybox',
    '    command: sh -c "echo worker up; sleep 600"',
    '    scale: 2',
    ''
  ].join('\n'))
  return project
}
