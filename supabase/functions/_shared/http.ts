/**
 * @module Request and response plumbing shared by the functions: JSON in with a byte limit and a
 * nesting limit, JSON out with CORS headers, and the single place an error becomes a response.
 */
import {
  answerFor,
  HttpError,
  invalidJson,
  jsonTooDeep,
  methodNotAllowed,
  payloadTooLarge,
  unsupportedMediaType,
} from './errors.ts';

/**
 * How deeply arrays and objects may nest in a request body unless a function says otherwise. Every
 * later step walks the parsed body recursively (the storable-text check, zod, PostgreSQL's jsonb
 * input), so the depth is bounded on the raw text, before anything is parsed or walked.
 */
export const defaultMaxJsonDepth = 32;

export const corsHeaders = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, x-client-info, apikey, content-type',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-expose-headers': 'server-timing',
} as const;

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...corsHeaders, 'content-type': 'application/json', ...headers },
  });
}

export function errorResponse(error: unknown, log: (message: string, error: unknown) => void): Response {
  if (error instanceof HttpError) return json(error.toBody(), error.status, error.headers);
  const answer = answerFor(error);
  if (answer) {
    log(`answered ${answer.status} ${answer.code}`, error);
    return json(answer.toBody(), answer.status, answer.headers);
  }
  log('unexpected error', error);
  return json({ error: 'internal_error', message: 'the function failed; the request may not have been applied' }, 500);
}

export function requireMethod(request: Request, allowed: string[]): void {
  if (!allowed.includes(request.method)) throw methodNotAllowed(request.method, allowed);
}

/**
 * Reads the body as JSON, refusing more than `limitBytes` before reading it all and nesting deeper
 * than `maxDepth` before parsing it.
 */
export async function readJson(request: Request, limitBytes: number, maxDepth = defaultMaxJsonDepth): Promise<unknown> {
  const type = request.headers.get('content-type') ?? '';
  if (type && !/^application\/json\b/i.test(type)) throw unsupportedMediaType();
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limitBytes) throw payloadTooLarge(limitBytes);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limitBytes) {
        await reader.cancel();
        throw payloadTooLarge(limitBytes);
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalidJson('the body is not UTF-8');
  }
  if (text.trim() === '') throw invalidJson('the body is empty');
  if (nestsDeeperThan(text, maxDepth)) throw jsonTooDeep(maxDepth);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidJson((error as Error).message);
  }
}

/**
 * Whether JSON text opens more than `maxDepth` arrays or objects inside each other, in one pass
 * without recursion; brackets inside strings do not count. Text that is not JSON is left to
 * JSON.parse to refuse.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth -= 1;
    }
  }
  return false;
}

/** Durations of a request's steps, for the `server-timing` header (read by `npm run bench:sync`). */
export class ServerTiming {
  private last = performance.now();
  private readonly steps: [string, number][] = [];

  mark(step: string): void {
    const now = performance.now();
    this.steps.push([step, now - this.last]);
    this.last = now;
  }

  header(): string {
    return this.steps.map(([step, ms]) => `${step};dur=${ms.toFixed(1)}`).join(', ');
  }
}
