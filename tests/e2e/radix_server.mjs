// Shared by the e2e tests: starts `radix serve` on an ephemeral port (--port 0, so tests
// never clash) and resolves once it prints "ready". On the CPU unless RADIX_E2E_DEVICE
// names another device (scripts/device/run-e2e-gpu.sh sets it to cuda); flags in
// RADIX_E2E_SERVER_ARGS go to every server.
import { spawn } from 'node:child_process';

export function startServer(radix, model, extraArgs = []) {
  return new Promise((resolve, reject) => {
    const device = process.env.RADIX_E2E_DEVICE || 'cpu';
    // On a GPU the KV pool would otherwise take most of the card (--mem-fraction-static),
    // and a test that starts a second server while the first runs would find none left.
    const pool = device === 'cpu' ? [] : ['--max-total-tokens', '65536'];
    // RADIX_E2E_SERVER_ARGS: extra flags for every server (e.g. --enable-overlap-schedule).
    const env = (process.env.RADIX_E2E_SERVER_ARGS || '').split(' ').filter((a) => a.length > 0);
    const proc = spawn(radix, ['serve', '--model-path', model, '--device', device, '--port', '0',
      '--log-level', 'warning', ...pool, ...env, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let port = 0;
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no ready in 120 s:\n${out}`)); }, 120000);
    const onData = (d) => {
      out += d.toString();
      const m = out.match(/listening on http:\/\/[^:]+:(\d+)/);
      if (m) port = Number(m[1]);
      if (/ready on http/.test(out) && port) {
        clearTimeout(timer);
        resolve({ proc, port, base: `http://127.0.0.1:${port}`, output: () => out });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    // Until the caller detaches it (proc.off('exit', proc.onEarlyExit)), an exit fails the start.
    const onEarlyExit = (code) => { clearTimeout(timer); reject(new Error(`radix serve exited ${code}:\n${out}`)); };
    proc.on('exit', onEarlyExit);
    proc.onEarlyExit = onEarlyExit;
  });
}
