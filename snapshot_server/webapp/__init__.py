"""The web layer: the aiohttp application that serves the API and the pages.

app          create_app(config, open_store, ...): the composition of the application
routes       the one route table (and the fallback for unknown paths)
middlewares  errors -> JSON (or the viewer's HTML pages); bearer token -> Identity
appkeys      every typed AppKey and RequestKey
api          the JSON API's handlers: parse and validate, call the service, shape the answer
parsing      request bodies and query strings -> typed requests
request_body reading a body: only when allowed, inflated within the limit
responses    JSON responses, times, cache headers
protocol     how aiohttp serves the application (JSON protocol errors, no inflation)
"""
