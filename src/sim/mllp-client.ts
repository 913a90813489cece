import { connect, type TLSSocket } from 'node:tls';
import { MllpDecoder, mllpFrame } from '../ingest/index.js';

export interface MllpClientOptions {
  host?: string;
  port: number;
  /** CA certificate(s) that verify the server. */
  ca: string | Buffer | Array<string | Buffer>;
  /** Client certificate chain and key (PEM); omit to connect without one. */
  cert?: string | Buffer;
  key?: string | Buffer;
  servername?: string;
  maxMessageBytes?: number;
}

/**
 * A minimal HL7 MLLP client over TLS, as a device gateway would use it: `send` frames one
 * message and resolves with the ACK text (segments end with CR). Several sends may be in
 * flight (pipelining); MLLP answers in order, so ACKs are matched to sends by position.
 * `closed` resolves when the server ends the connection (e.g. a refused certificate).
 */
export class MllpClient {
  readonly #socket: TLSSocket;
  readonly #waiting: Array<{ resolve: (ack: string) => void; reject: (error: Error) => void }> = [];
  readonly closed: Promise<void>;

  private constructor(socket: TLSSocket, maxMessageBytes: number) {
    this.#socket = socket;
    const decoder = new MllpDecoder(maxMessageBytes);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) this.#waiting.shift()?.resolve(frame.toString('utf8'));
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        for (const w of this.#waiting.splice(0)) w.reject(new Error('connection closed before the ACK'));
        resolve();
      });
    });
    socket.on('error', () => {});
  }

  /** Connects and completes the TLS handshake (rejects if the server refuses it). */
  static connect(options: MllpClientOptions): Promise<MllpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: options.host ?? '127.0.0.1',
        port: options.port,
        ca: options.ca,
        ...(options.cert ? { cert: options.cert } : {}),
        ...(options.key ? { key: options.key } : {}),
        servername: options.servername ?? 'localhost',
        minVersion: 'TLSv1.2',
      });
      socket.setNoDelay(true);
      socket.once('secureConnect', () => {
        socket.off('error', reject);
        resolve(new MllpClient(socket, options.maxMessageBytes ?? 16 * 1024 * 1024));
      });
      socket.once('error', reject);
    });
  }

  /** Sends one message and resolves with its ACK. */
  send(message: string | Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed) return reject(new Error('connection closed'));
      this.#waiting.push({ resolve, reject });
      this.#socket.write(mllpFrame(message));
    });
  }

  /** Writes raw bytes (for framing tests). */
  writeRaw(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  close(): Promise<void> {
    this.#socket.end();
    return this.closed;
  }
}

/** MSA-1 and MSA-2 of an ACK, and its ERR segments' ERR-3.1 / ERR-5.1 codes. */
export function readAck(ack: string): {
  code: string;
  controlId: string;
  errors: Array<{ hl7: string; code: string; location: string }>;
} {
  const segments = ack
    .split('\r')
    .filter(Boolean)
    .map((s) => s.split('|'));
  const msa = segments.find((s) => s[0] === 'MSA') ?? [];
  return {
    code: msa[1] ?? '',
    controlId: msa[2] ?? '',
    errors: segments
      .filter((s) => s[0] === 'ERR')
      .map((s) => ({
        hl7: (s[3] ?? '').split('^')[0]!,
        code: (s[5] ?? '').split('^')[0]!,
        location: s[2] ?? '',
      })),
  };
}
