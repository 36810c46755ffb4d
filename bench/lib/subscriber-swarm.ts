/**
 * A process of many WebSocket subscribers for the subscriptions bench, apart from the node so
 * that the node's own cost is what the figure shows. It opens `count` subscriptions, prints
 * "ready", and notes when each subscriber receives each entry of a list known in advance (by
 * the last characters of the entry's base64url text: part of its signature). On "stop" on
 * stdin it writes the receipt times (ms, Float64, NaN for never) to `out` and prints "done".
 *
 *   node subscriber-swarm.js URL QUERY COUNT KEYS_FILE OUT_FILE
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';

const [url, query, countText, keysFile, out] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const count = Number(countText);
const keys = readFileSync(keysFile, 'utf8').split('\n').filter(Boolean);
const index = new Map(keys.map((key, i) => [key, i]));
const KEY_CHARS = keys[0]!.length;
const times = new Float64Array(count * keys.length).fill(NaN);
const now = (): number => performance.timeOrigin + performance.now();
let unknown = 0;

/** Entries of an `entries` message, found without parsing the JSON (this process is busy). */
function onMessage(sub: number, text: string): void {
  const at = now();
  const start = text.indexOf('"entries":["');
  if (start < 0) return;
  const list = text.slice(start + 12, text.lastIndexOf('"]'));
  for (const entry of list.split('","')) {
    const i = index.get(entry.slice(-KEY_CHARS));
    if (i === undefined) unknown += 1;
    else if (Number.isNaN(times[sub * keys.length + i]!)) times[sub * keys.length + i] = at;
  }
}

const sockets: WebSocket[] = [];
async function open(sub: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/subscribe?${query}`);
        socket.on('message', (data) => onMessage(sub, String(data)));
        socket.once('message', () => resolve());
        socket.once('error', reject);
        sockets.push(socket);
      });
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

await Promise.all(Array.from({ length: count }, (_, sub) => open(sub)));
process.stdout.write('ready\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line !== 'stop') return;
  for (const socket of sockets) socket.terminate();
  writeFileSync(out, Buffer.from(times.buffer));
  process.stdout.write(`done ${unknown}\n`);
  process.exit(0);
});
