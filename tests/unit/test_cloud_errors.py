"""One line naming the cause for each way logging in can fail."""

from keystoneauth1 import exceptions as ks_exc

from glance_virtio.services import glance

REFUSED = ("Unable to establish connection to http://127.0.0.1:9/v3/auth/"
           "tokens: HTTPConnectionPool(host='127.0.0.1', port=9): Max "
           "retries exceeded with url: /v3/auth/tokens (Caused by "
           "NewConnectionError('<urllib3.connection.HTTPConnection object "
           "at 0x7f>: Failed to establish a new connection: [Errno 111] "
           "Connection refused'))")


def test_refused_connection_names_url_and_reason():
    error = glance.cloud_error(ks_exc.ConnectFailure(REFUSED))
    assert str(error) == ('cannot reach the cloud at http://127.0.0.1:9/v3/'
                          'auth/tokens: Connection refused')
    assert isinstance(error, glance.CloudError) and error.retriable


def test_each_failure_is_one_line_and_a_cloud_error():
    cases = {
        ks_exc.Unauthorized('The request you have made requires '
                            'authentication.'): 'authentication failed',
        ks_exc.ConnectTimeout(REFUSED): 'timed out',
        ks_exc.SSLError('SSL: CERTIFICATE_VERIFY_FAILED at '
                        'https://keystone.example:5000/v3'): 'TLS',
        ks_exc.EndpointNotFound('public endpoint for image service in '
                                'RegionTwo region not found'): 'endpoint',
        ks_exc.DiscoveryFailure('Could not find versioned identity\n'
                                'endpoints'): 'identity API',
        ks_exc.InternalServerError('boom'): 'login failed',
    }
    for exc, words in cases.items():
        error = glance.cloud_error(exc)
        assert isinstance(error, glance.CloudError)
        assert words in str(error), str(error)
        assert '\n' not in str(error)
    assert glance.cloud_error(ks_exc.Unauthorized()).status == 401
    assert not glance.cloud_error(ks_exc.Unauthorized()).retriable


def test_a_cloud_error_is_still_a_glance_error():
    # apply.py retries GlanceErrors by status: a dropped connection stays
    # retriable, a 401 does not.
    assert issubclass(glance.CloudError, glance.GlanceError)
