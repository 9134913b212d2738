import { gunzipSync, gzip, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';

const gzipAsync = promisify(gzip);

/** Up to this size a snapshot is compressed on the event loop (tens of µs). */
const SYNC_COMPRESS_MAX_CHARS = 64 * 1024;

/**
 * Gzip of a snapshot's canonical JSON. Pod specs are a few KB: for them zlib's async path
 * (stream machinery, a thread-pool hop, fresh deflate state) costs several times the CPU of
 * compressing in place (bench/README.md, ingest); large ones go to the thread pool.
 */
export function compressSnapshot(canonical: string): Promise<Buffer> {
  if (canonical.length <= SYNC_COMPRESS_MAX_CHARS) return Promise.resolve(gzipSync(canonical, { level: 6 }));
  return gzipAsync(canonical, { level: 6 });
}

export function decompressSnapshot(body: Uint8Array): unknown {
  return JSON.parse(gunzipSync(body).toString('utf8')) as unknown;
}
