-- The next cycle's questionnaire starts from the previous answers: each is carried over from
-- the vendor's last completed questionnaire of the same template, until the vendor confirms
-- it (saves or submits it).
alter table questionnaire_answers add column carried_over boolean not null default false;
