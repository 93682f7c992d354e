/**
 * WebSocket echo load (its own process): `bun run bench/ws-echo-load.ts URL
 * HOST SOCKETS SECONDS BYTES`. Each socket keeps one message in flight and
 * sends the next when the echo returns. Prints JSON: messages echoed, rate,
 * round-trip p50/p99 (ms), errors.
 */
const [url, host, socketsText, secondsText, bytesText] = process.argv.slice(2);
const sockets = Number(socketsText);
const seconds = Number(secondsText);
const payload = new Uint8Array(Number(bytesText)).fill(97);
const samples: number[] = [];
let messages = 0;
let errors = 0;
let running = true;

async function runSocket(): Promise<void> {
  const ws = new WebSocket(url, { headers: { host } } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("open failed"));
  });
  await new Promise<void>((resolve) => {
    let sentAt = 0;
    const send = () => {
      if (!running) {
        ws.close();
        return resolve();
      }
      sentAt = performance.now();
      ws.send(payload);
    };
    ws.onmessage = () => {
      messages++;
      if (messages % 16 === 0) samples.push(performance.now() - sentAt);
      send();
    };
    ws.onclose = () => resolve();
    ws.onerror = () => {
      errors++;
      resolve();
    };
    send();
  });
}

const started = performance.now();
setTimeout(() => (running = false), seconds * 1000);
await Promise.all(Array.from({ length: sockets }, () => runSocket().catch(() => errors++)));
const elapsed = (performance.now() - started) / 1000;
samples.sort((a, b) => a - b);
const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? NaN;
console.log(JSON.stringify({ messages, rate: messages / elapsed, p50: q(0.5), p99: q(0.99), errors }));
process.exit(0);
