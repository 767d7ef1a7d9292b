// Getting a checkpoint's files out of the browser: a dropped folder (or dropped files), a folder
// picked with <input webkitdirectory>, or files picked one by one. Only the folder's top level is
// taken: Hugging Face repos keep other things in sub-folders (original/, onnx/ …), as the store's
// sourceFromFiles also assumes.

export interface PickedFiles {
  files: File[];
  /** The folder's name, when the files came from one folder (the model's default name). */
  folder?: string;
}

/** Files from an <input type=file> (with or without webkitdirectory). */
export function filesFromInput(list: FileList | null): PickedFiles {
  const all = [...(list ?? [])];
  let folder: string | undefined;
  const files = all.filter((f) => {
    const parts = (f.webkitRelativePath || f.name).split('/');
    if (parts.length === 2) folder ??= parts[0];
    return parts.length <= 2;
  });
  return { files, folder };
}

/**
 * Files from a drop. NOTE: the DataTransfer is only readable during the drop event, so its entries
 * and files are taken synchronously here, before the first await.
 */
export function filesFromDrop(dt: DataTransfer): Promise<PickedFiles> {
  const entries = [...dt.items].map((i) => (i.kind === 'file' ? i.webkitGetAsEntry() : null)).filter((e): e is FileSystemEntry => e !== null);
  const plain = [...dt.files];
  return (async () => {
    if (entries.length === 0) return { files: plain }; // no entry API (or a synthetic drop)
    const files: File[] = [];
    const dirs = entries.filter((e): e is FileSystemDirectoryEntry => e.isDirectory);
    for (const e of entries) {
      if (e.isFile) files.push(await entryFile(e as FileSystemFileEntry));
      else if (e.isDirectory) files.push(...(await topLevelFiles(e as FileSystemDirectoryEntry)));
    }
    return { files, folder: dirs.length === 1 ? dirs[0].name : undefined };
  })();
}

function entryFile(e: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => e.file(resolve, reject));
}

/** The files directly inside a dropped folder (readEntries returns them in batches until empty). */
async function topLevelFiles(dir: FileSystemDirectoryEntry): Promise<File[]> {
  const reader = dir.createReader();
  const out: File[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return out;
    for (const e of batch) if (e.isFile) out.push(await entryFile(e as FileSystemFileEntry));
  }
}
