"""Telegram Mini Apps: the map editor staff draw closures on, and the live map drivers open inside Telegram.

How a drawing reaches the conversation, with N bot processes behind a balancer:

1. ``/new`` (or ``/edit``, at its place question; or ``/emergency``, at its area question) shows a "Draw on
   the map" ``web_app`` button whose URL (``links.editor_url``, under ``WEBAPP_URL``) carries the page's
   language and a token naming the question, kept in the draft (for an emergency, also its municipality:
   the page frames it and draws an area only, and the drawing carries it back).
2. Telegram opens the page with its signed ``initData``. The page (``bot/web/static/editor.js``) lets the
   operator draw, and posts ``{initData, geometry, …}`` to ``POST /webapp/drawing`` on whichever process the
   balancer picks (``bot/web/editor_routes.py``).
3. That process trusts nothing: the signature and age of ``initData`` (``initdata``), the user's staff
   rights, then the geometry through the same parser and placement as every other input (``422`` with the
   operator's sentence when refused, so the page keeps the drawing). It then claims the ``initData``'s hash
   once in the database (``closures.used_keys``: a replay, to any process, changes nothing) and feeds its
   own Application a real ``telegram.Update`` from that operator: a private message carrying
   ``web_app_data`` (``drawing.update_for``), the very shape Telegram gives a Mini App's ``sendData``.
4. From there it is an ordinary update. The ``/new`` conversation takes ``web_app_data`` in every state
   (``bot/handlers/staff/drawn.py``): in the draft waiting for that token it goes through the same
   ``finish`` as a pasted GeoJSON (placement, limits, boundary tolerance, self-intersection), the drawing
   is shown back as a map and the next question is asked. An emergency's area is ``/emergency``'s instead
   (``bot/handlers/staff/emergency_drawn.py``, told apart by ``map_editor.EMERGENCY_AREA``), taken as a
   pasted area is: cut to the municipality and said, or refused.

The seam with the rest of the bot is therefore one Update, queued like a webhook update: the conversation's
state and draft are read wherever PTB keeps them (the store, per update, once conversations are shared
across processes), and no state lives in the web server. A process that receives a drawing for a user it
has never seen answers that user just as it would answer their webhook update.

Modules: ``initdata`` (the signature check), ``drawing`` (the page's request and the update it becomes),
``links`` (the ``web_app`` URLs the bot sends).
"""
