"""Professor forcing: a GAN between teacher-forced and free-running dynamics.

Lamb, Goyal, Zhang, Zhang, Courville & Bengio 2016, "Professor Forcing: A New
Algorithm for Training Recurrent Networks" (https://arxiv.org/abs/1610.09038).
A discriminator sees the decoder's hidden-state sequence and guesses whether
it came from a teacher-forced run or a free-running (sampled) run; the
decoder is trained with its usual likelihood plus a term that makes its
free-running dynamics indistinguishable from its teacher-forced ones (the
paper's C_f), and optionally the converse (C_t).

The step below is written on `keras_dlss.models.CustomStep`'s primitives: one
forward pass, two losses each differentiated w.r.t. its own player's weights,
two optimizers; it runs on TensorFlow, JAX and PyTorch.
"""

import keras
from keras import ops


def build_discriminator(units, dtype=None, name="discriminator"):
    """Bidirectional GRU over a `[B, T, H]` hidden sequence -> `[B, 1]` logit.

    The paper's discriminator: a bidirectional RNN summarizing the behavior
    sequence, followed by an MLP.
    """
    return keras.Sequential(
        [
            keras.layers.Bidirectional(keras.layers.GRU(units), dtype=dtype),
            keras.layers.Dense(units, activation="relu", dtype=dtype),
            keras.layers.Dense(1, dtype=dtype),
        ],
        name=name,
    )


def _bce(labels_are_teacher, logits):
    labels = ops.ones_like(logits) if labels_are_teacher else ops.zeros_like(logits)
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


def discriminator_losses(discriminator, teacher_hidden, free_hidden, training=True):
    """Returns `(d_loss, g_loss, d_accuracy)` from one discriminator pass.

    `d_loss` trains the discriminator (teacher-forced = 1, free running = 0);
    `g_loss` is the paper's C_f + C_t with flipped labels: free-running
    sequences should look teacher-forced and vice versa. The caller takes
    `d_loss` gradients w.r.t. the discriminator only and `g_loss` gradients
    w.r.t. the decoder only, so one pass over both batches serves both.
    """
    batch = ops.shape(teacher_hidden)[0]
    logits = discriminator(
        ops.concatenate([teacher_hidden, free_hidden], axis=0), training=training
    )
    d_teacher, d_free = logits[:batch], logits[batch:]
    d_loss = _bce(True, d_teacher) + _bce(False, d_free)
    g_loss = _bce(True, d_free) + _bce(False, d_teacher)
    correct = ops.concatenate(
        [ops.cast(d_teacher > 0, "float32"), ops.cast(d_free <= 0, "float32")]
    )
    return d_loss, g_loss, ops.mean(correct)


def professor_forcing_step(model, data):
    """One professor-forcing update of `model` (a `Seq2SeqTranslator`); returns the logs."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    source, target = model._unpack(x)
    discriminator = model.discriminator

    def loss_fn():
        logits, teacher_hidden = model.teacher_forced(source, target, training=True)
        _, free_hidden = model.free_running(source, ops.shape(target)[1], training=True)
        nll = model.compute_loss(x=x, y=y, y_pred=logits, sample_weight=sample_weight)
        d_loss, g_loss, d_accuracy = discriminator_losses(
            discriminator, teacher_hidden, free_hidden
        )
        # `compute_loss` divides `nll` by the replica count under tf.distribute; the
        # discriminator's losses, computed here, are divided likewise.
        g_loss, scaled_d_loss = (model.scale_loss_for_distribution(v) for v in (g_loss, d_loss))
        aux = (model.unscale_loss_for_distribution(nll), d_loss, d_accuracy, logits)
        return (nll + model.adversarial_weight * g_loss, scaled_d_loss), aux

    # Resolved after the forward pass, which builds an unbuilt model (TensorFlow).
    _, (nll, d_loss, d_accuracy, logits), (grads, d_grads) = model.compute_gradients(
        loss_fn, lambda: (model.trainable_variables, discriminator.trainable_variables)
    )
    # The main optimizer tracks every trainable weight (as Keras builds it on
    # load); the discriminator's entries get zero gradients so Adam leaves them.
    variables, disc_vars = model.trainable_variables, discriminator.trainable_variables
    disc_ids = {id(v) for v in disc_vars}
    grads = [ops.zeros_like(g) if id(v) in disc_ids else g for v, g in zip(variables, grads)]
    model.optimizer.apply(grads, variables)
    model.discriminator_optimizer.apply(d_grads, disc_vars)
    for metric in model.metrics:
        if metric.name == "loss":
            metric.update_state(nll)
        elif metric.name == "discriminator_loss":
            metric.update_state(d_loss)
        elif metric.name == "discriminator_accuracy":
            metric.update_state(d_accuracy)
        else:
            metric.update_state(y, logits, sample_weight=sample_weight)
    return model.get_metrics_result()
