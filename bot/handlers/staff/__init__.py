"""Staff on Telegram: the ``/new`` and ``/edit`` conversation (``conversation`` wires it; ``flow`` asks,
``geometry`` and ``fields`` take the answers into a ``draft``; ``timeinput`` reads typed times), the
``/emergency`` conversation (``emergency``, with ``emergency_flow``, ``emergency_answers`` and
``emergency_draft``), the buttons under a partner's CAP alert (``cap_drafts``), ``playbooks``, who may act
(``auth``), the other staff commands (``manage``) and ``/outbox`` for admins (``outbox_admin``)."""
