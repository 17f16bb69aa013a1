"""Staff on Telegram: the ``/new`` and ``/edit`` conversation (``conversation`` wires it; ``flow`` asks,
``geometry`` and ``fields`` take the answers into a ``draft``; ``timeinput`` reads typed times), who may act
(``auth``), the other staff commands (``manage``) and ``/outbox`` for admins (``outbox_admin``)."""
