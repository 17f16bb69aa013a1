"""A process that competes for one ``ProcessLock``, for the tests of locks across real processes.

``python -m tests.closures.lock_holder URL NAME`` tries the lock at once and then whenever it is told to (a
line ``try`` on stdin), ``release`` lets it go, ``check`` asks the server whether it still holds it; each
answer is one line on stdout: ``held``, ``busy``, ``released``, ``lost``. End of input: exit (holding or
not: the server then drops the lock with the session).
"""

from __future__ import annotations

import sys

from closures.locks import ProcessLock
from closures.store import make_engine


def main(url: str, name: str) -> None:
    lock = ProcessLock(make_engine(url), name)

    def say(word: str) -> None:
        print(word, flush=True)

    say("held" if lock.try_acquire() else "busy")
    for line in sys.stdin:
        command = line.strip()
        if command == "try":
            say("held" if lock.try_acquire() else "busy")
        elif command == "release":
            lock.release()
            say("released")
        elif command == "check":
            say("held" if lock.still_held() else "lost")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
