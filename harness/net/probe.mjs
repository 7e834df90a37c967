// Traffic probe run inside lab hosts (plain JavaScript: it starts in a fraction of tsx's time).
// Prints one JSON line. Modes:
//   serve                       listen on an OS-chosen TCP port; prints {"port"} then serves:
//                               a connection starting with 'E' is echoed, one with 'S' is counted and
//                               answered with the byte count when the sender half-closes
//   rtt ADDR PORT COUNT         COUNT one-byte round trips on one connection: {"connectMs","rttMs":[…]}
//   bulk ADDR PORT BYTES        sends BYTES, waits for the count: {"bytes","seconds","mbitPerS"}
//   connect ADDR PORT TIMEOUT   {"ok":true,"ms"} or {"ok":false,"error"}
import { connect, createServer } from 'node:net';

const [mode, addr, port, arg] = process.argv.slice(2);
const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
const ms = (since) => Number(process.hrtime.bigint() - since) / 1e6;

function serve() {
  const server = createServer((sock) => {
    let kind = '';
    let count = 0;
    sock.setNoDelay(true);
    sock.on('error', () => {});
    sock.on('data', (chunk) => {
      if (kind === '') {
        kind = String.fromCharCode(chunk[0]);
        chunk = chunk.subarray(1);
      }
      if (kind === 'E') sock.write(chunk);
      else count += chunk.length;
    });
    sock.on('end', () => sock.end(kind === 'S' ? String(count) : undefined));
  });
  server.listen(0, '0.0.0.0', () => print({ port: server.address().port }));
}

function open(timeoutMs) {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: addr, port: Number(port), noDelay: true });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function rtt(count) {
  const start = process.hrtime.bigint();
  const sock = await open(10_000);
  const connectMs = ms(start);
  const rttMs = [];
  sock.write('E');
  for (let i = 0; i < count; i++) {
    const sent = process.hrtime.bigint();
    const echoed = new Promise((resolve) => sock.once('data', resolve));
    sock.write('x');
    await echoed;
    rttMs.push(ms(sent));
  }
  sock.end();
  print({ connectMs, rttMs });
}

async function bulk(bytes) {
  const start = process.hrtime.bigint();
  const sock = await open(10_000);
  const reply = new Promise((resolve, reject) => {
    let text = '';
    sock.on('data', (d) => (text += d));
    sock.once('end', () => resolve(Number(text)));
    sock.once('error', reject);
  });
  sock.write('S');
  const chunk = Buffer.alloc(64 * 1024, 7);
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    const piece = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
    if (!sock.write(piece)) await new Promise((r) => sock.once('drain', r));
  }
  sock.end();
  const counted = await reply;
  const seconds = ms(start) / 1000;
  print({ bytes: counted, seconds, mbitPerS: (counted * 8) / seconds / 1e6 });
}

async function tryConnect(timeoutMs) {
  const start = process.hrtime.bigint();
  try {
    (await open(timeoutMs)).destroy();
    print({ ok: true, ms: ms(start) });
  } catch (err) {
    print({ ok: false, error: err.message });
  }
}

const modes = {
  serve,
  rtt: () => rtt(Number(arg)),
  bulk: () => bulk(Number(arg)),
  connect: () => tryConnect(Number(arg)),
};
if (!modes[mode]) {
  process.stderr.write(
    'usage: probe.mjs serve | rtt ADDR PORT COUNT | bulk ADDR PORT BYTES | connect ADDR PORT TIMEOUT_MS\n',
  );
  process.exit(2);
}
modes[mode]();
