// A coffer store on any S3-compatible endpoint through the AWS JS SDK (v3), with exactly the
// object layout of the Rust S3 store (docs/FORMAT.md §7), so either side reads the other's data:
//   <prefix>blocks/<cid>              one object per block or blob (base32 CIDv1)
//   <prefix>heads/<vault>/<writer>    one object per head; its version is the ETag
// Conditional head writes: If-None-Match: * (absent) and If-Match: <etag> (matches); 412/409
// become a PreconditionFailed error. Errors carry a `code` the wasm glue maps to a CofferError.
// Reads are capped as the Rust store's: getMax by the caller's limit (Content-Length first, then
// the body), getRange by the range's length, heads at MAX_HEAD_BYTES and MAX_HEADS per vault;
// more is a `TooLarge` error, and the rest of the body is not read.
import {
  S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';

function storeError(code, message, cause) {
  const e = new Error(message, cause ? { cause } : undefined);
  e.code = code;
  return e;
}

/** The largest head read (as the Rust stores: MAX_HEAD_BYTES) and the most heads per namespace. */
export const MAX_HEAD_BYTES = 1 << 20;
export const MAX_HEADS = 10000;

const tooLarge = (what, limit) => {
  const e = storeError('TooLarge', `${what} is larger than the limit of ${limit}; the rest was not read (the store is broken or hostile)`);
  e.limit = limit;
  return e;
};

/** Reads a GetObject answer, throwing `onOver()` as soon as it passes `cap` bytes. */
async function readCapped(out, cap, onOver) {
  if (typeof out.ContentLength === 'number' && out.ContentLength > cap) {
    try { await out.Body?.transformToWebStream().cancel(); } catch { /* already closed */ }
    throw onOver(out.ContentLength);
  }
  const reader = out.Body.transformToWebStream().getReader();
  const parts = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n + value.length > cap) {
      await reader.cancel().catch(() => {});
      throw onOver();
    }
    parts.push(value);
    n += value.length;
  }
  const bytes = new Uint8Array(n);
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  return bytes;
}

function status(e) { return e?.$metadata?.httpStatusCode; }
function isNotFound(e) { return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || status(e) === 404; }

function mapError(op, e) {
  const s = status(e);
  const name = e?.name ?? 'Error';
  const msg = `S3 ${op}: ${name}${s ? ` (HTTP ${s})` : ''}: ${e?.message ?? e}`;
  if (isNotFound(e)) return storeError('NotFound', msg, e);
  if (s === 412 || s === 409 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict') {
    return storeError('PreconditionFailed', msg, e);
  }
  if (s === 401 || s === 403 || /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken/.test(name)) {
    return storeError('AccessDenied', msg, e);
  }
  if (s === 429 || s === 503 || /SlowDown|Throttl/.test(name)) return storeError('Throttled', msg, e);
  if (name === 'TimeoutError') return storeError('Timeout', msg, e);
  return storeError('Unavailable', msg, e);
}

export class S3Store {
  /**
   * @param {object} options
   * @param {string} options.bucket
   * @param {string} [options.prefix]  key prefix ('/' appended when missing)
   * @param {import('@aws-sdk/client-s3').S3Client} [options.client]  a configured client, or:
   * @param {string} [options.endpoint]  e.g. http://127.0.0.1:18333 (path-style is then used)
   * @param {string} [options.region]
   * @param {{accessKeyId: string, secretAccessKey: string, sessionToken?: string}} [options.credentials]
   */
  constructor(options) {
    if (!options || typeof options.bucket !== 'string' || !options.bucket) {
      throw storeError('BadInput', 'S3Store needs { bucket }');
    }
    this.bucket = options.bucket;
    let prefix = options.prefix ?? '';
    if (prefix && !prefix.endsWith('/')) prefix += '/';
    this.prefix = prefix;
    this.client = options.client ?? new S3Client({
      region: options.region ?? 'us-east-1',
      endpoint: options.endpoint,
      forcePathStyle: options.endpoint !== undefined,
      credentials: options.credentials,
      // Integrity is coffer's BLAKE3; not every S3-compatible store accepts the newer checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: options.maxAttempts ?? 5,
    });
    // SeaweedFS, MinIO and AWS enforce If-None-Match / If-Match on PutObject.
    this.conditionalWrites = options.conditionalWrites ?? 'enforced';
  }

  blockKey(cid) { return `${this.prefix}blocks/${cid}`; }
  headKey(vault, writer) { return `${this.prefix}heads/${vault}/${writer}`; }

  async #send(op, cmd) {
    try {
      return await this.client.send(cmd);
    } catch (e) {
      throw mapError(op, e);
    }
  }

  async put(cid, bytes) {
    await this.#send('PutObject', new PutObjectCommand({ Bucket: this.bucket, Key: this.blockKey(cid), Body: bytes }));
  }

  async get(cid) {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.blockKey(cid) }));
      return await out.Body.transformToByteArray();
    } catch (e) {
      if (isNotFound(e)) return null;
      throw mapError('GetObject', e);
    }
  }

  /** The bytes of `cid`, or a `TooLarge` error as soon as they exceed `maxLen`. */
  async getMax(cid, maxLen) {
    let out;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.blockKey(cid) }));
    } catch (e) {
      if (isNotFound(e)) return null;
      throw mapError('GetObject', e);
    }
    return readCapped(out, maxLen, (len) => tooLarge(`block ${cid}${len === undefined ? '' : ` (${len} bytes)`}`, maxLen));
  }

  async getRange(cid, start, end) {
    if (start > end) throw storeError('RangeOutOfBounds', `range ${start}..${end} is inverted`);
    if (start === end) {
      // An empty range: only check that it lies inside the object.
      let len;
      try {
        len = (await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.blockKey(cid) }))).ContentLength;
      } catch (e) {
        if (isNotFound(e)) return null;
        throw mapError('HeadObject', e);
      }
      if (end > len) throw storeError('RangeOutOfBounds', `range ${start}..${end} outside ${len} bytes`);
      return new Uint8Array(0);
    }
    try {
      const out = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket, Key: this.blockKey(cid), Range: `bytes=${start}-${end - 1}`,
      }));
      // S3 silently shortens a range past the end: check the total in Content-Range.
      const total = Number(/\/(\d+)$/.exec(out.ContentRange ?? '')?.[1]);
      if (Number.isFinite(total) && end > total) {
        throw storeError('RangeOutOfBounds', `range ${start}..${end} outside ${total} bytes`);
      }
      return await readCapped(out, end - start, () => tooLarge(`the answer to range ${start}..${end} of ${cid}`, end - start));
    } catch (e) {
      if (e?.code) throw e;
      if (isNotFound(e)) return null;
      if (status(e) === 416) throw storeError('RangeOutOfBounds', `range ${start}..${end} not satisfiable`);
      throw mapError('GetObject', e);
    }
  }

  async has(cid) {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.blockKey(cid) }));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw mapError('HeadObject', e);
    }
  }

  async delete(cid) {
    await this.#send('DeleteObject', new DeleteObjectCommand({ Bucket: this.bucket, Key: this.blockKey(cid) }));
  }

  async #listKeys(prefix) {
    const keys = [];
    let token;
    do {
      const out = await this.#send('ListObjectsV2', new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: prefix, ContinuationToken: token,
      }));
      for (const o of out.Contents ?? []) keys.push(o.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async list() {
    const prefix = `${this.prefix}blocks/`;
    return (await this.#listKeys(prefix)).map((k) => k.slice(prefix.length)).filter((k) => !k.includes('/'));
  }

  async readHeads(vault) {
    const prefix = `${this.prefix}heads/${vault}/`;
    const writers = (await this.#listKeys(prefix))
      .map((key) => key.slice(prefix.length))
      .filter((w) => w && !w.includes('/') && !w.startsWith('.'));
    if (writers.length > MAX_HEADS) throw tooLarge(`the head listing of ${vault} (${writers.length} heads)`, MAX_HEADS);
    const heads = [];
    for (const writer of writers) {
      const key = prefix + writer;
      try {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
        const bytes = await readCapped(out, MAX_HEAD_BYTES, (len) => tooLarge(`head ${vault}/${writer}${len === undefined ? '' : ` (${len} bytes)`}`, MAX_HEAD_BYTES));
        heads.push({ writer, bytes, version: out.ETag });
      } catch (e) {
        if (e?.code) throw e;
        if (isNotFound(e)) continue; // deleted between list and get
        throw mapError('GetObject', e);
      }
    }
    return heads;
  }

  async writeHead(vault, writer, bytes, condition) {
    const input = { Bucket: this.bucket, Key: this.headKey(vault, writer), Body: bytes };
    if (condition.type === 'absent') input.IfNoneMatch = '*';
    else if (condition.type === 'matches') input.IfMatch = condition.version;
    const out = await this.#send('PutObject', new PutObjectCommand(input));
    if (!out.ETag) throw storeError('Unavailable', 'S3 PutObject returned no ETag');
    return out.ETag;
  }
}
