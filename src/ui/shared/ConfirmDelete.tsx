// The delete confirmation of the Model screen (models, adapters) and the Runs screen (runs): an
// alertdialog with what will be lost, a Delete button that takes focus, and Keep; Escape keeps too.
// The caller decides where focus goes after either (onKeep, onDelete).

import { useRef, useState, type ReactNode } from 'react';

/**
 * The state around a ConfirmDelete: whether it is open, the Delete button that opens it (`button`,
 * a ref), keep() (closes it and gives focus back to that button once it is there again) and
 * close() (closes it; the caller moves focus).
 */
export function useConfirmDelete() {
  const [confirming, setConfirming] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  return {
    confirming,
    button,
    open: (): void => setConfirming(true),
    close: (): void => setConfirming(false),
    keep: (): void => {
      setConfirming(false);
      requestAnimationFrame(() => button.current?.focus());
    },
  };
}

export function ConfirmDelete({ label, textId, testId, deleteText = 'Delete', children, onDelete, onKeep }: {
  /** The dialog's accessible name, e.g. "Delete tiny?" */
  label: string;
  /** The id of the sentence that describes it (aria-describedby). */
  textId: string;
  /** data-testid of the dialog; its buttons get `${testId}-yes` and `${testId}-no`. */
  testId: string;
  /** The confirming button's text (default "Delete"), e.g. "Delete run". */
  deleteText?: string;
  /** What will be deleted and freed, as a sentence. */
  children: ReactNode;
  onDelete: () => void;
  onKeep: () => void;
}) {
  return (
    <div
      className="confirm"
      role="alertdialog"
      aria-label={label}
      aria-describedby={textId}
      data-testid={testId}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          onKeep();
        }
      }}
    >
      <span id={textId}>{children}</span>
      <button type="button" className="danger" data-testid={`${testId}-yes`} autoFocus onClick={onDelete}>
        {deleteText}
      </button>
      <button type="button" data-testid={`${testId}-no`} onClick={onKeep}>
        Keep
      </button>
    </div>
  );
}
