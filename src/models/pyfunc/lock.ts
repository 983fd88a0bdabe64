import { mkdir, open, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** Whether a process of that id runs (signal 0 checks without sending). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `work` holding a lock file (created exclusively, holding the holder's pid): concurrent runs on one
 * machine wait for each other; a lock whose holder died (kill -9 mid-build) is taken over.
 */
export async function withLock<T>(path: string, work: () => Promise<T>, pollMs = 250): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  for (;;) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
      if (Number.isInteger(holder) && holder > 0 && !alive(holder)) await rm(path, { force: true });
      else await sleep(pollMs);
    }
  }
  try {
    return await work();
  } finally {
    await rm(path, { force: true });
  }
}
