/**
 * A progress display on stderr: a redrawn bar on a terminal, a line every few seconds otherwise
 * (so CI logs show progress without flooding).
 */
export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr) {
  const started = Date.now();
  let lastDraw = 0;
  const tty = Boolean(stream.isTTY);
  function draw(done: number, force = false): void {
    const now = Date.now();
    if (!force && now - lastDraw < (tty ? 100 : 5000)) return;
    lastDraw = now;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const rate = done / Math.max(0.001, (now - started) / 1000);
    const stats = `${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${Math.round(rate).toLocaleString('en-US')}/s`;
    if (tty) {
      const width = 30;
      const filled = Math.round(fraction * width);
      stream.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0)}% ${stats}`,
      );
    } else {
      stream.write(`${label}: ${(fraction * 100).toFixed(0)}% ${stats}\n`);
    }
  }
  return {
    update: (done: number) => draw(done),
    finish(done: number) {
      draw(done, true);
      if (tty) stream.write('\n');
    },
  };
}

/**
 * One progress bar per phase of a multi-phase job (the simulator's register / enroll / connect),
 * created when the phase first reports and finished when it reports its total.
 */
export function createPhaseProgress(indent = '') {
  const bars = new Map<string, ReturnType<typeof createProgress>>();
  return (p: { phase: string; done: number; total: number }): void => {
    let bar = bars.get(p.phase);
    if (!bar) {
      bar = createProgress(`${indent}${p.phase.padEnd(10)}`, p.total);
      bars.set(p.phase, bar);
    }
    if (p.done === p.total) bar.finish(p.done);
    else bar.update(p.done);
  };
}
