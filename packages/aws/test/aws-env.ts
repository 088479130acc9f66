import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { STAND_IN_KEY } from './ec2-stand-in.js'

/**
 * Points the SDK's default credential chain at files in `dir` (a `default` profile with the
 * stand-in's key, an `other` profile with a wrong secret) and away from anything outside:
 * no environment keys, no instance metadata service (only loopback traffic in tests).
 */
export async function useStandInCredentials (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'credentials'), [
    '[default]', `aws_access_key_id = ${STAND_IN_KEY.accessKeyId}`, `aws_secret_access_key = ${STAND_IN_KEY.secretAccessKey}`, '',
    '[wrong-secret]', `aws_access_key_id = ${STAND_IN_KEY.accessKeyId}`, 'aws_secret_access_key = not-the-secret', '',
    '[unknown-key]', 'aws_access_key_id = AKIAUNKNOWN000000000', 'aws_secret_access_key = whatever', ''
  ].join('\n'), { mode: 0o600 })
  await writeFile(join(dir, 'config'), '[default]\nregion = us-east-1\n', { mode: 0o600 })
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI']) delete process.env[name]
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials')
  process.env.AWS_CONFIG_FILE = join(dir, 'config')
  process.env.AWS_EC2_METADATA_DISABLED = 'true'
}
