import { Body, Controller, Post } from '@nestjs/common';
import { AnalyticsEvent, User } from './entities.js';

import { EntityManager, EntityRepository, MikroORM } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { InjectEntityManager, InjectMikroORM, InjectRepository } from 'nestjs-mikro-tenancy';

@Injectable()
export class SignupService {
  constructor(
    private readonly em: EntityManager,                                   // 'default', injected by class
    @InjectEntityManager('analytics') private readonly analytics: EntityManager,
    @InjectRepository(User) private readonly users: EntityRepository<User>,
    @InjectRepository(AnalyticsEvent, 'analytics') private readonly events: EntityRepository<AnalyticsEvent>,
    @InjectMikroORM('analytics') private readonly analyticsOrm: MikroORM,
  ) {}

  async signUp(email: string): Promise<User> {
    const user = this.em.create(User, { email });
    await this.em.flush();                       // written to the default database
    this.analytics.create(AnalyticsEvent, { name: 'signup', subject: email });
    await this.analytics.flush();                // written to the analytics database
    return user;
  }
}

@Controller('signup')
export class SignupController {
  constructor(private readonly signup: SignupService) {}

  @Post()
  signUp(@Body() body: { email: string }) {
    return this.signup.signUp(body.email);
  }
}
