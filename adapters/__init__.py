"""Target adapters: one package per mesh, found through the `meshspec.adapters` entry points.

Adapters never import each other; what they share lives in the underscore
modules of this package (`_k8s` for Kubernetes object conventions).
"""
