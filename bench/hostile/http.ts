/** A plain node:http request, for methods fetch refuses to send (TRACE) and bodies it would reshape. */
import { request } from 'node:http';

export function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method, headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    req.on('error', (error) => resolve({ status: 0, body: error.message }));
    req.setTimeout(30_000, () => req.destroy(new Error('timed out')));
    req.end(body);
  });
}
