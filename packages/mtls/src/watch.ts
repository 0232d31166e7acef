import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

/** Stops watching. */
export interface FileWatch {
  close(): void;
}

/**
 * Calls `onChange` once things are quiet for `debounceMs` after any of `files` changed. It
 * watches the folders, not the files: tools that rotate certificates write a new file and
 * rename it over the old one (a watch on the old file would go deaf), and Kubernetes secret
 * volumes swap a `..data` symlink, whose events are taken as a change too. Watchers and the
 * timer never keep the process alive.
 */
export function watchFiles(files: readonly string[], debounceMs: number, onChange: () => void, onError: (error: unknown) => void): FileWatch {
  const names = new Map<string, Set<string>>();
  for (const file of files) {
    const dir = dirname(file);
    let set = names.get(dir);
    if (set === undefined) names.set(dir, (set = new Set()));
    set.add(basename(file));
  }
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) onChange();
    }, debounceMs);
    timer.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const [dir, wanted] of names) {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, filename) => {
        const name = filename === null ? null : String(filename);
        if (name === null || wanted.has(name) || name.startsWith('..')) schedule();
      });
      watcher.on('error', onError);
      watchers.push(watcher);
    } catch (error) {
      onError(error);
    }
  }
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
