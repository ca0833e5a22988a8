import { connect, type Socket } from 'node:net';
import { MAX_PORT } from './constants.js';

/**
 * Opens a TCP connection (Nagle off), or fails within `timeoutMs`.
 * @returns the connected socket.
 * @throws RangeError when `port` is not an integer from 1 to 65535.
 * @throws Error the socket's error (ECONNREFUSED, ...), or `no connection within <timeoutMs> ms`.
 */
export function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) return Promise.reject(new RangeError(`port must be an integer from 1 to ${MAX_PORT}`));
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      cleanup();
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    function cleanup(): void {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.off('connect', onConnect);
    }
    socket.once('error', onError);
    socket.once('connect', onConnect);
  });
}
