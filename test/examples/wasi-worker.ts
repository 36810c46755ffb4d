/** The worker thread of runWasi: runs one job and posts its outcome. */
import { parentPort, workerData } from 'node:worker_threads';
import { runWasiHere, type WasiJob } from './wasi-host.js';

parentPort!.postMessage(runWasiHere(workerData as WasiJob));
