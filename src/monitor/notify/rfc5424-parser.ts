/**
 * A strict RFC 5424 parser for tests (§6 ABNF): PRI 0-191, VERSION 1, TIMESTAMP as §6.2.3 (RFC 3339
 * with the §6.2.3.1 restrictions: upper-case T and Z, at most 6 fractional digits), header fields
 * PRINTUSASCII within their lengths or NILVALUE, STRUCTURED-DATA with SD-NAMEs and escaped
 * PARAM-VALUEs (§6.3.3), then SP and MSG (with an optional UTF-8 BOM, §6.4). Throws on any deviation.
 */
export interface Parsed5424 {
  pri: number;
  facility: number;
  severity: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: Record<string, Record<string, string>>;
  msg: string;
  bom: boolean;
}

/** SD-NAME: 1-32 PRINTUSASCII except '=', SP, ']' and '"' (0x22, 0x3d, 0x5d). */
const SD_NAME = /^[\x21\x23-\x3c\x3e-\x5c\x5e-\x7e]{1,32}/;
const TIMESTAMP =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

function field(value: string | undefined, max: number, what: string): string {
  if (value === undefined || value.length === 0 || value.length > max || !/^[\x21-\x7e]+$/.test(value)) {
    throw new Error(`bad ${what}`);
  }
  return value;
}

export function parseRfc5424(line: string): Parsed5424 {
  const head = /^<(\d{1,3})>1 /.exec(line);
  if (!head) throw new Error('bad PRI/VERSION');
  const pri = Number(head[1]);
  if (pri > 191 || (head[1]!.length > 1 && head[1]!.startsWith('0'))) throw new Error('bad PRI');
  let rest = line.slice(head[0].length);
  const take = () => {
    const sp = rest.indexOf(' ');
    if (sp <= 0) throw new Error('missing SP');
    const v = rest.slice(0, sp);
    rest = rest.slice(sp + 1);
    return v;
  };
  const timestamp = take();
  if (timestamp !== '-' && !TIMESTAMP.test(timestamp)) throw new Error('bad TIMESTAMP');
  const hostname = field(take(), 255, 'HOSTNAME');
  const appName = field(take(), 48, 'APP-NAME');
  const procId = field(take(), 128, 'PROCID');
  const msgId = field(take(), 32, 'MSGID');
  const sd: Record<string, Record<string, string>> = {};
  if (rest.startsWith('-')) rest = rest.slice(1);
  else {
    if (!rest.startsWith('[')) throw new Error('bad STRUCTURED-DATA');
    while (rest.startsWith('[')) {
      rest = rest.slice(1);
      const id = SD_NAME.exec(rest)?.[0];
      if (!id) throw new Error('bad SD-ID');
      if (sd[id]) throw new Error('duplicate SD-ID');
      rest = rest.slice(id.length);
      const params: Record<string, string> = {};
      while (rest.startsWith(' ')) {
        rest = rest.slice(1);
        const name = SD_NAME.exec(rest)?.[0];
        if (!name) throw new Error('bad PARAM-NAME');
        rest = rest.slice(name.length);
        if (!rest.startsWith('="')) throw new Error('bad PARAM');
        rest = rest.slice(2);
        let value = '';
        for (;;) {
          const c = rest[0];
          if (c === undefined) throw new Error('unterminated PARAM-VALUE');
          if (c === '\\' && ['"', '\\', ']'].includes(rest[1] ?? '')) {
            value += rest[1];
            rest = rest.slice(2);
          } else if (c === '"') {
            rest = rest.slice(1);
            break;
          } else if (c === ']') throw new Error('unescaped ] in PARAM-VALUE');
          else {
            value += c;
            rest = rest.slice(1);
          }
        }
        params[name] = value;
      }
      if (!rest.startsWith(']')) throw new Error('unterminated SD-ELEMENT');
      rest = rest.slice(1);
      sd[id] = params;
    }
  }
  let msg = '';
  let bom = false;
  if (rest.length > 0) {
    if (!rest.startsWith(' ')) throw new Error('missing SP before MSG');
    msg = rest.slice(1);
    if (msg.startsWith('\uFEFF')) {
      bom = true;
      msg = msg.slice(1);
    }
  }
  return {
    pri,
    facility: pri >> 3,
    severity: pri & 7,
    timestamp,
    hostname,
    appName,
    procId,
    msgId,
    sd,
    msg,
    bom,
  };
}
