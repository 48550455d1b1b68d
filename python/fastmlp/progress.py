"""fit(progress=True): a tqdm.auto bar when tqdm is installed (notebooks get theirs), else a
log line on stderr every `log_every` epochs (every tenth of the run when log_every=0)."""
from __future__ import annotations

import sys
from typing import Optional


class Progress:
    """The progress display of one ``fit(progress=True)``.

    Parameters
    ----------
    epochs : int
        The epochs the fit will run.
    log_every : int
        Without tqdm, a line every this many epochs; 0 means every tenth of the run.
    """

    def __init__(self, epochs: int, log_every: int) -> None:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        self.epochs = epochs
        self.every = log_every or max(1, epochs // 10)
        self.bar = None if tqdm is None else tqdm(total=epochs, desc="fit", unit="epoch")

    def update(self, epoch: int, loss: float, val_loss: Optional[float]) -> None:
        """Shows that an epoch has ended: moves the bar, or prints the line when due (and
        always after the last epoch).

        Parameters
        ----------
        epoch : int
            The epoch, from 1.
        loss : float
            Its training loss.
        val_loss : float or None
            Its validation loss, when there is validation data.
        """
        if self.bar is not None:
            post = {"loss": f"{loss:.4g}"}
            if val_loss is not None:
                post["val_loss"] = f"{val_loss:.4g}"
            self.bar.set_postfix(post, refresh=False)
            self.bar.update(epoch - self.bar.n)
        elif epoch % self.every == 0 or epoch == self.epochs:
            line = f"fit: epoch {epoch}/{self.epochs}  loss {loss:.6g}"
            if val_loss is not None:
                line += f"  val_loss {val_loss:.6g}"
            print(line, file=sys.stderr, flush=True)

    def write(self, line: str) -> None:
        """Prints a log line (on stdout without a bar) without breaking the bar.

        Parameters
        ----------
        line : str
            The text.
        """
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def close(self) -> None:
        """Closes the bar, if there is one."""
        if self.bar is not None:
            self.bar.close()
