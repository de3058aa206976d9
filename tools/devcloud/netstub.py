"""A stand-in for the few Neutron reads Nova makes for servers without ports.

Not Neutron: there is no network service in the devcloud.  Servers are
created with `networks='none'`, but Nova still asks Neutron for a server's
ports and security groups on every show and delete.  This WSGI app answers
those reads with empty lists and everything else with 404 (no writes).
Nova finds it through [neutron] endpoint_override; it is not in the
catalog, so clients see no network service.
"""

import json

EMPTY = {'/v2.0/ports': 'ports', '/v2.0/security-groups': 'security_groups',
         '/v2.0/networks': 'networks', '/v2.0/floatingips': 'floatingips',
         '/v2.0/subnets': 'subnets', '/v2.0/extensions': 'extensions'}


def application(environ, start_response):
    path = environ.get('PATH_INFO', '').rstrip('/')
    if path.endswith('.json'):
        path = path[:-5]
    kind = EMPTY.get(path)
    if environ['REQUEST_METHOD'] != 'GET' or (kind is None and path):
        body, status = {'NeutronError': {
            'type': 'HTTPNotFound', 'detail': '',
            'message': 'the devcloud has no network service'}}, '404 Not Found'
    else:
        body, status = ({kind: []} if kind else {'versions': []}), '200 OK'
    data = json.dumps(body).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data)))])
    return [data]
