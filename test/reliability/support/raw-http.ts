import { connect } from 'node:net';

/**
 * One HTTP/1.1 GET written byte for byte, so hostile values (UTF-8, NUL, quotes) reach the server exactly as a
 * malicious client would send them; fetch and node:http refuse or re-encode many of them. Resolves the status
 * code (the server may also reject the request itself, before Nest sees it).
 */
export function rawGet(port: number, target: string, headers: Record<string, string>, timeoutMs = 5_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms for GET ${JSON.stringify(target)} ${JSON.stringify(headers)}`));
    }, timeoutMs);
    socket.on('connect', () => {
      const lines = [`GET ${target} HTTP/1.1`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`), 'Connection: close', '', ''];
      socket.write(Buffer.from(lines.join('\r\n'), 'utf8')); // not end(): a half-closed socket gets no 400 from Node's parser
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      if (match) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!/^HTTP\/1\.[01] \d{3}/.test(received)) reject(new Error(`connection closed without a status line for GET ${JSON.stringify(target)} ${JSON.stringify(headers)}`));
    });
  });
}
