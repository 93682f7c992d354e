/** A plain-text error answer from the entry itself. */
export function errorResponse(status: number, message: string): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "x-tunnel2-error": String(status) },
  });
}
