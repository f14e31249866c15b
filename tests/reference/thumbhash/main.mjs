// A loop around the reference encoder for the tests: reads "E WIDTH HEIGHT BASE64-RGBA" lines
// from stdin and writes each ThumbHash in base64, as the reference's node example prints it.
import { createInterface } from 'node:readline'
import { rgbaToThumbHash } from './thumbhash.mjs'

for await (const line of createInterface({ input: process.stdin })) {
  const [, w, h, rgba] = line.split(' ')
  const hash = rgbaToThumbHash(Number(w), Number(h), Buffer.from(rgba, 'base64'))
  process.stdout.write(Buffer.from(hash).toString('base64') + '\n')
}
