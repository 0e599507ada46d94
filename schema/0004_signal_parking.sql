-- 0004_signal_parking.sql — signals for an object no instance knows yet.
--
-- A webhook about a PaymentIntent can arrive before the checkpoint that
-- records the PaymentIntent's id as a correlation key of its instance
-- commits. Such a signal is stored "parked": no instance, but the
-- correlation (key, value) it was addressed to. The transaction that adds
-- that correlation to an instance (a checkpoint, a start, a correlate call)
-- hands the parked signals to it. Both sides first take a transaction-level
-- advisory lock on the (key, value) pair (settle_corr_lock), in a statement
-- of their own, so that whichever commits second sees the other's rows.

ALTER TABLE signals ADD COLUMN corr_key text, ADD COLUMN corr_value text;
ALTER TABLE signals ADD CONSTRAINT signals_addressed
  CHECK (instance_id IS NOT NULL OR (corr_key IS NOT NULL AND corr_value IS NOT NULL));
CREATE INDEX signals_parked ON signals (corr_key, corr_value, id) WHERE instance_id IS NULL;

-- Lock the given (key, value) pairs in a fixed order (no deadlocks between
-- transactions locking several).
CREATE FUNCTION settle_corr_lock(keys text[], vals text[]) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  h bigint;
BEGIN
  FOR h IN SELECT DISTINCT hashtextextended(k || chr(31) || v, 7365)
             FROM unnest(keys, vals) AS x(k, v) ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(h);
  END LOOP;
END $$;
