// Saving what the Export screen makes: into a folder the user picks (the File System Access API's
// showDirectoryPicker, where the browser has it: Chromium), else as downloads (one per file, an
// <a download> on a blob: URL). A folder export goes into a new sub-folder named after the run, so
// nothing already there is overwritten by surprise. Files are written from their Blobs, so a shard
// of several GB never has to be one array in the page.

export interface FileToSave {
  /** Path in the export, e.g. "model.safetensors" (a "/" makes sub-folders). */
  path: string;
  blob: Blob;
}

type DirectoryPicker = (options?: { id?: string; mode?: 'read' | 'readwrite'; startIn?: string }) => Promise<FileSystemDirectoryHandle>;

const picker = (): DirectoryPicker | undefined => (window as unknown as { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker;

/** The browser can write into a folder the user picks. */
export const canSaveToFolder = (): boolean => typeof picker() === 'function';

/** Asks the user for a folder (call it from the click itself: it needs the user's gesture). Throws AbortError when they cancel. */
export async function pickFolder(): Promise<FileSystemDirectoryHandle> {
  const pick = picker();
  if (!pick) throw new Error('this browser cannot save into a folder');
  return pick({ id: 'prefstudio-export', mode: 'readwrite' });
}

/** Writes the files into `dir`/`sub`/ (created); returns where they went, e.g. "Downloads/run-1-model". */
export async function writeToFolder(dir: FileSystemDirectoryHandle, sub: string, files: readonly FileToSave[], onFile?: (path: string) => void): Promise<string> {
  const root = await dir.getDirectoryHandle(sub, { create: true });
  for (const f of files) {
    const parts = f.path.split('/').filter(Boolean);
    let d = root;
    for (const p of parts.slice(0, -1)) d = await d.getDirectoryHandle(p, { create: true });
    onFile?.(f.path);
    const handle = await d.getFileHandle(parts[parts.length - 1], { create: true });
    const w = await handle.createWritable();
    try {
      await w.write(f.blob);
      await w.close();
    } catch (e) {
      await w.abort().catch(() => undefined);
      throw e;
    }
  }
  return `${dir.name}/${sub}`;
}

/** Starts a download of one file (its name: the last part of its path). */
export function download(path: string, blob: Blob): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = path.split('/').pop() ?? path;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  // the download has its own reference once started; give it a moment before the URL goes
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

/** Text as a file for download(). */
export const textBlob = (text: string, type = 'text/plain'): Blob => new Blob([text], { type: `${type};charset=utf-8` });
