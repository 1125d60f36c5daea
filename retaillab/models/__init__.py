"""Fitted retaillab models as MLflow models: logged into a run, loaded back as pyfunc.

(The log/load API lands in the next commit; :mod:`retaillab.models._common` holds the
helpers every flavour module shares.)
"""
