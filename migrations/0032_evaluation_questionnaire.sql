-- A due-diligence criterion may take its score from a completed questionnaire of the vendor
-- (vendors::evaluations): the questionnaire it was taken from is kept with the score.
alter table evaluation_scores add column questionnaire_id bigint references questionnaires (id);
