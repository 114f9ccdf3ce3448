"""Integrations with the places NLP people train: Hugging Face ``transformers.Trainer``
(:mod:`~nlpfootprint.integrations.transformers`), Lightning
(:mod:`~nlpfootprint.integrations.lightning`) and IPython/Jupyter
(:mod:`~nlpfootprint.integrations.ipython`).

Each module imports its library when it is imported itself; importing ``nlpfootprint``
(or this package) imports none of them.
"""
