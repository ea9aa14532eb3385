# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gzip streams, with ISA-L (``isal``) when it is installed. Private to the collection.

Node-side (the node unpacks what the controller sent) and controller-side (the controller compresses it): the
standard library only, isal an optional accelerator.
"""

from __future__ import annotations


def gzip_reader():
    """Fastest gzip reader available and the exceptions it raises on bad data: ISA-L's (``isal``)
    when installed, else the standard library's."""
    import zlib  # pylint: disable=import-outside-toplevel
    try:
        from isal import igzip, isal_zlib  # pylint: disable=import-outside-toplevel
        return igzip.IGzipFile, (isal_zlib.error, zlib.error)
    except ImportError:
        import gzip  # pylint: disable=import-outside-toplevel
        return gzip.GzipFile, (zlib.error,)


def gzip_writer(fileobj):
    """A gzip stream writing into ``fileobj``: ISA-L's at its best ratio when installed (several times
    faster), else the standard library's at level 6. No name or time in the header."""
    try:
        from isal import igzip  # pylint: disable=import-outside-toplevel
        return igzip.IGzipFile(fileobj=fileobj, mode="wb", compresslevel=3, mtime=0)
    except ImportError:
        import gzip  # pylint: disable=import-outside-toplevel
        return gzip.GzipFile(filename="", fileobj=fileobj, mode="wb", compresslevel=6, mtime=0)
