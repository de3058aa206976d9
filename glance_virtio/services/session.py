"""Logging in: the SDK connection, every failure one CloudError line."""

import logging

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
from osc_lib import exceptions as osc_exc

from glance_virtio.services import glance

LOG = logging.getLogger(__name__)


def log_in(connect, logins=(), quiet=True):
    """connect(), then glance.login and each of logins on the connection.

    Any failure is a glance.CloudError naming the cause in one line, before
    any image is read: a 401 or an unreachable cloud never becomes a
    per-image result. quiet: keystoneauth logs no warnings of its own.
    """
    ks_log = logging.getLogger('keystoneauth')
    level = ks_log.level
    if quiet:
        ks_log.setLevel(logging.ERROR)
    try:
        conn = connect()
        for login in (glance.login,) + tuple(logins):
            login(conn)
        return conn
    except (sdk_exc.ConfigException, osc_exc.AuthorizationFailure,
            ks_exc.AuthPluginException) as e:
        raise glance.CloudError(
            'cloud configuration: %s (check --os-cloud, clouds.yaml or the '
            'OS_* variables)' % glance.one_line(e))
    except ks_exc.ClientException as e:
        raise glance.cloud_error(e)
    finally:
        ks_log.setLevel(level)
