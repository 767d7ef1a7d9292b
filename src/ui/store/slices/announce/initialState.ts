// Announce slice: the one message the studio's status region (role=status, aria-live=polite;
// src/ui/shell/Announcer.tsx) reads out to screen readers — an import's progress and outcome, a
// delete, an interrupted import found after a reload. Problems are not announced here: they are
// shown in role=alert boxes where they happened.

export interface AnnounceState {
  announce: {
    message: string;
    /** Counts messages, so that the same words said twice are read twice. */
    seq: number;
  };
}

export const announceInitialState: AnnounceState = {
  announce: { message: '', seq: 0 },
};
