"""A throw-away CA for the broker's TLS listener and a unit's client certificate, as PEM files (trustme).

For the tests of TLS and of the broker's deploy configuration; the bench and the benchmarks run without TLS.
"""

from __future__ import annotations

import os

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost")


class Pki:
    """A CA with a broker certificate and a unit's client certificate, as PEM files in a directory.

    server_names: the names (or IP addresses) the broker's certificate is issued for.
    """

    def __init__(self, directory: str, server_names: tuple[str, ...] = SERVER_NAMES, client_name: str = "unit1"):
        os.makedirs(directory, exist_ok=True)
        self.ca = trustme.CA()
        server = self.ca.issue_cert(*server_names)
        client = self.ca.issue_cert(client_name)
        self.ca_file = os.path.join(directory, "ca.pem")
        self.server_cert_file = os.path.join(directory, "server.pem")
        self.server_key_file = os.path.join(directory, "server.key")
        self.client_cert_file = os.path.join(directory, "client.pem")
        self.client_key_file = os.path.join(directory, "client.key")
        self.ca.cert_pem.write_to_path(self.ca_file)
        server.private_key_pem.write_to_path(self.server_key_file)
        server.cert_chain_pems[0].write_to_path(self.server_cert_file)
        client.private_key_pem.write_to_path(self.client_key_file)
        client.cert_chain_pems[0].write_to_path(self.client_cert_file)
        for path in (self.server_key_file, self.client_key_file):
            os.chmod(path, 0o600)

    def client_settings(self) -> dict:
        """The uplink settings for mutual TLS with this PKI."""
        return {"tls": True, "ca_file": self.ca_file, "cert_file": self.client_cert_file,
                "key_file": self.client_key_file}
