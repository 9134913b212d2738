import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Request } from 'express';
import { MAX_BATCH_JSON_BYTES, MAX_BATCH_WIRE_BYTES, parseDecimal } from '@portcullis/contracts';
import { badInput, payloadTooLarge } from '@portcullis/platform';

const gunzipAsync = promisify(gunzip);

export interface BodyLimits {
  /** Bytes on the wire, compressed or not. */
  readonly wireBytes: number;
  /** JSON bytes after decompression: what a zip bomb would blow up. */
  readonly jsonBytes: number;
}

export const BATCH_BODY_LIMITS: BodyLimits = { wireBytes: MAX_BATCH_WIRE_BYTES, jsonBytes: MAX_BATCH_JSON_BYTES };

/** The JSON parser of the app skips this route: it reads its own body (gzip, own limits). */
export const ADMISSION_EVENTS_PATH = '/agent/v1/admission-events';

/**
 * Reads an admission-event batch: JSON, optionally `Content-Encoding: gzip`. Both the
 * wire size and the decompressed size are bounded; decompression stops at the limit,
 * so a small gzip bomb costs at most `jsonBytes` of memory. Oversized bodies are
 * drained without buffering before the 413, so the agent reads the answer.
 */
export async function readBatchBody(req: Request, limits: BodyLimits = BATCH_BODY_LIMITS): Promise<unknown> {
  const type = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    throw badInput('Content-Type', `Content-Type must be application/json (got "${type.slice(0, 64) || 'none'}")`);
  const encoding = (req.header('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip')
    throw badInput('Content-Encoding', `Content-Encoding must be gzip or absent (got "${encoding.slice(0, 32)}")`);

  const wire = await readLimited(req, limits.wireBytes);
  if (wire === undefined)
    throw payloadTooLarge(
      `the request body is larger than ${limits.wireBytes} bytes${encoding === 'gzip' ? ' compressed' : ''}; send smaller batches`,
    );
  let json: Buffer;
  if (encoding === 'gzip') {
    try {
      json = await gunzipAsync(wire, {
        maxOutputLength: limits.jsonBytes,
        chunkSize: inflateChunkSize(wire, limits.jsonBytes),
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw payloadTooLarge(
          `the request body decompresses to more than ${limits.jsonBytes} bytes of JSON; send smaller batches`,
        );
      }
      throw badInput('(body)', `the request body is not valid gzip: ${(err as Error).message}`);
    }
  } else {
    if (wire.length > limits.jsonBytes)
      throw payloadTooLarge(`the request body is larger than ${limits.jsonBytes} bytes of JSON; send smaller batches`);
    json = wire;
  }
  try {
    return JSON.parse(json.toString('utf8')) as unknown;
  } catch (err) {
    throw badInput('(body)', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Output chunk size for inflating a gzip body: with zlib's default 16 KiB chunks a batch took
 * ~40 hops between the thread pool and the event loop, each through the stream machinery
 * (measured: 4x the CPU of inflating in one or two chunks). A gzip member ends with the size
 * of its input (ISIZE, RFC 1952), so the chunk is that size when it is within the limits: one
 * chunk holds the whole body and no more. (A guess of 32x the wire size allocated ~1.3 MB for
 * the bench's 438 KB batches, outside V8's heap, per batch.) zlib checks ISIZE where the
 * member ends, so a wrong one is refused as invalid gzip; a body of several members (only
 * the last one's size is at the end) costs more chunks, never a wrong body.
 */
export function inflateChunkSize(wire: Buffer, jsonBytes: number): number {
  const cap = Math.min(jsonBytes, 4 * 1024 * 1024);
  // the smallest gzip member is 18 bytes (10 of header, 8 of trailer)
  const declared = wire.length >= 18 ? wire.readUInt32LE(wire.length - 4) : 0;
  const wanted = declared > 0 && declared < cap ? declared + 64 : Math.min(wire.length * 32, cap);
  return Math.max(16 * 1024, Math.min(wanted, cap));
}

/** The body, or undefined when it exceeds `limit`. */
function readLimited(req: Request, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = parseDecimal(req.header('content-length') ?? '');
    const chunks: Buffer[] = [];
    let size = 0;
    let over = declared !== undefined && declared > limit;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (over) {
        chunks.length = 0; // drained, never buffered: memory stays bounded by the limit
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(over ? undefined : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(badInput('(body)', `the request body could not be read: ${err.message}`));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
