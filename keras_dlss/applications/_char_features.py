"""Character-CNN word features shared by the tagger and the biaffine parser."""

import keras


def char_cnn_features(chars, vocabulary_size, embedding_dim, filters, kernel_size, max_word_length):
    """Max-pooled character CNN features per word (Ma & Hovy 2016; Dozat & Manning 2017).

    Args:
        chars: symbolic int tensor `[B, N, max_word_length]`, 0 = padding.
        vocabulary_size: int. Character vocabulary size.
        embedding_dim: int. Character embedding size.
        filters: int. Convolution filters = feature size per word.
        kernel_size: int. Convolution width in characters.
        max_word_length: int. Characters per word in `chars`.

    Returns:
        A symbolic tensor `[B, N, filters]`.
    """
    c = keras.layers.Embedding(vocabulary_size, embedding_dim, name="char_embedding")(chars)
    # A (1, k) Conv2D is a per-word 1-D convolution over characters.
    c = keras.layers.Conv2D(
        filters, (1, kernel_size), padding="same", activation="relu", name="char_cnn"
    )(c)
    # Max over each word's characters. Not TimeDistributed(GlobalMaxPooling1D):
    # its SavedModel mixes up batch and time when both are unknown.
    c = keras.layers.MaxPooling2D((1, max_word_length), name="char_pool")(c)
    return keras.layers.Reshape((-1, filters), name="char_features")(c)
